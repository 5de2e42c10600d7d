/**
 * The one door to @peculiar/x509: it must not be evaluated before a Reflect metadata polyfill is
 * in place (the reflect-metadata package), and ES modules evaluate imports in order, so the polyfill
 * import comes first here and every other module imports the library through this file.
 */
import 'reflect-metadata';

export {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  ExtensionFactory,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  type Extension,
} from '@peculiar/x509';
